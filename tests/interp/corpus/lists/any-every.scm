;; any and every return the deciding value, work on several lists
(write (list (any even? '(1 3 5)) (any even? '(1 4 5)) (any even? '()))) (newline)
(write (list (every odd? '(1 3 5)) (every odd? '(1 4 5)) (every odd? '()))) (newline)
(write (any (lambda (x) (and (> x 2) (* x 10))) '(1 2 3 4))) (newline)
(write (every (lambda (x) (and (> x 0) (* x 10))) '(1 2 3))) (newline)
(write (any < '(5 6 7) '(1 9 2))) (newline)
(write (every < '(1 2) '(3 4 0))) (newline)
(write (any (lambda (x y) (and (= x y) x)) '(1 2 3) '(3 2 1))) (newline)
(write (every (lambda (x) x) '(1 #f 3))) (newline)
