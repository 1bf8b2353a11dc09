;; case with => in a clause and in else
(write (case 5 ((1 2) 'low) ((5) => (lambda (x) (* x 2))) (else 'other))) (newline)
(write (case 9 ((1 2) 'low) (else => (lambda (x) (list 'got x))))) (newline)
(write (case 'b ((a b c) => symbol->string) (else => (lambda (x) x)))) (newline)
(define (describe n)
  (case (remainder n 3)
    ((0) => (lambda (r) (list n 'divisible r)))
    (else => (lambda (r) (list n 'remainder r)))))
(write (map describe '(9 10 11))) (newline)
