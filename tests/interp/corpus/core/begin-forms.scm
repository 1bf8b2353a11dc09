;; begin: sequencing, value of the last expression, top-level begin with defines
(write (begin 1 2 3)) (newline)
(define trace '())
(define (note! x) (set! trace (cons x trace)) x)
(write (begin (note! 'a) (note! 'b) (note! 'c))) (newline)
(write (reverse trace)) (newline)
(begin
  (define b1 10)
  (define (b2) (* b1 2)))
(write (list b1 (b2))) (newline)
(define (f x)
  (begin
    (set! x (+ x 1))
    (set! x (* x 2)))
  x)
(write (f 3)) (newline)
(write (let ((v 0)) (begin (set! v 5)) (+ v 1))) (newline)
(begin (write 'inside-begin) (newline))
