;; case-lambda dispatches on the number of arguments
(import (scheme base) (scheme write) (scheme case-lambda))
(define area
  (case-lambda
    ((r) (list 'circle r))
    ((w h) (list 'rect w h))
    ((a b c) (list 'triangle a b c))))
(write (list (area 1) (area 2 3) (area 3 4 5))) (newline)
(define plus
  (case-lambda
    (() 0)
    ((x) x)
    ((x y) (+ x y))
    ((x y . rest) (apply plus (+ x y) rest))))
(write (list (plus) (plus 1) (plus 1 2) (plus 1 2 3 4 5))) (newline)
(define opt
  (case-lambda
    ((a) (opt a 'default))
    ((a b) (list a b))))
(write (list (opt 1) (opt 1 2))) (newline)
(define any-args (case-lambda (args (length args))))
(write (list (any-args) (any-args 'a 'b))) (newline)
(write (guard (e (#t 'no-matching-clause)) (area 1 2 3 4))) (newline)
