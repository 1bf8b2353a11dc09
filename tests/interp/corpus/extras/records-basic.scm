;; define-record-type: constructor, predicate, accessors, modifiers
(define-record-type point
  (make-point x y)
  point?
  (x point-x set-point-x!)
  (y point-y set-point-y!))
(define p (make-point 3 4))
(write (list (point? p) (point-x p) (point-y p))) (newline)
(set-point-x! p 10)
(write (list (point-x p) (point-y p))) (newline)
(write (map point? (list p 5 '(3 4) (vector 3 4) "p"))) (newline)
(define (distance2 a b)
  (+ (square (- (point-x a) (point-x b))) (square (- (point-y a) (point-y b)))))
(write (distance2 (make-point 0 0) (make-point 3 4))) (newline)
(define q (make-point 1 2))
(define r (make-point 1 2))
(write (list (eqv? q r) (eq? q q) (equal? q q))) (newline)
