;; partition returns two values; count works on one or more lists
(call-with-values (lambda () (partition even? '(1 2 3 4 5 6)))
  (lambda (evens odds) (write (list evens odds)) (newline)))
(let-values (((small big) (partition (lambda (x) (< x 10)) '(5 50 7 70))))
  (write (list small big)) (newline))
(let-values (((yes no) (partition symbol? '())))
  (write (list yes no)) (newline))
(write (list (count even? '(1 2 3 4)) (count even? '()) (count (lambda (x) #t) '(a b c)))) (newline)
(write (count < '(1 5 3) '(2 4 6))) (newline)
