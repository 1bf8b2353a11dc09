;; string-pad pads on the left (default space) and truncates from the left
(write (string-pad "42" 5)) (newline)
(write (string-pad "42" 5 #\0)) (newline)
(write (string-pad "abc" 3)) (newline)
(write (string-pad "abcdef" 3)) (newline)
(write (string-pad "" 2 #\*)) (newline)
(define (fmt-row n) (string-append (string-pad (number->string n) 6) "|"))
(for-each (lambda (n) (display (fmt-row n)) (newline)) '(1 22 333 4444))
