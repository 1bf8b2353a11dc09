;; dotted patterns capture the tail of a form
(define-syntax tail-of (syntax-rules () ((_ a . rest) 'rest)))
(write (tail-of 1 2 3)) (newline)
(write (tail-of 1)) (newline)
(define-syntax my-lambda
  (syntax-rules ()
    ((_ args . body) (lambda args . body))))
(write ((my-lambda (x y) (+ x y)) 3 4)) (newline)
(write ((my-lambda args args) 1 2)) (newline)
(define-syntax call-with-rest
  (syntax-rules ()
    ((_ f (a . b)) (f 'a 'b))))
(write (call-with-rest list (1 2 3))) (newline)
(write (call-with-rest list (1 . 2))) (newline)
