;; literal identifiers in patterns
(define-syntax for
  (syntax-rules (in from to)
    ((_ x in lst body ...) (for-each (lambda (x) body ...) lst))
    ((_ x from a to b body ...) (do ((x a (+ x 1))) ((> x b)) body ...))))
(for x in '(a b c) (write x))
(newline)
(for i from 1 to 5 (write (* i i)) (write-char #\space))
(newline)
(define-syntax arrow-test
  (syntax-rules (=>)
    ((_ a => b) (list 'arrow a b))
    ((_ a b c) (list 'plain a b c))))
(write (arrow-test 1 => 2)) (newline)
(write (arrow-test 1 2 3)) (newline)
(define-syntax my-if
  (syntax-rules (then else)
    ((_ c then t else e) (if c t e))))
(write (my-if #t then 'yes else 'no)) (newline)
(write (my-if #f then 'yes else 'no)) (newline)
