;; booleans: not, boolean?, boolean=?, #true/#false spellings
(write (list (not #f) (not #t) (not 0) (not '()) (not "x"))) (newline)
(write (list (boolean? #f) (boolean? #t) (boolean? 0) (boolean? '()))) (newline)
(write (list #true #false)) (newline)
(write (list (boolean=? #t #t) (boolean=? #f #f) (boolean=? #t #f) (boolean=? #f #f #f))) (newline)
(write (eq? #t (= 1 1))) (newline)
(write (list (if '() 'empty-list-is-true 'no) (if 0 'zero-is-true 'no))) (newline)
(display #t) (display " ") (display #f) (newline)
