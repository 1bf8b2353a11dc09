;; continuations accept multiple values when their receiver does
(write (call-with-values (lambda () (call/cc (lambda (k) (k 1 2 3)))) list)) (newline)
(write (call-with-values (lambda () (call/cc (lambda (k) (k)))) list)) (newline)
(write (call-with-values (lambda () (call/cc (lambda (k) (values 'a 'b)))) list)) (newline)
(let-values (((x y) (call/cc (lambda (k) (k 10 20)))))
  (write (+ x y)) (newline))
