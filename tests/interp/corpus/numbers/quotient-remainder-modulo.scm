;; integer division: sign rules for quotient, remainder, modulo
(define (row a b) (list a b (quotient a b) (remainder a b) (modulo a b)))
(for-each (lambda (ab) (write (row (car ab) (cadr ab))) (newline))
          '((17 5) (-17 5) (17 -5) (-17 -5) (0 3) (5 17) (-5 17)))
(write (list (modulo 13 4) (remainder 13 4) (modulo -13 4) (remainder -13 4))) (newline)
(write (list (modulo 13 -4) (remainder 13 -4) (modulo -13 -4) (remainder -13 -4))) (newline)
(write (list (quotient (expt 10 20) 7) (modulo (- (expt 10 20)) 7))) (newline)
