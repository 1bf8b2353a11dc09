;; display and write agree on numbers; exact and inexact are told apart
(for-each (lambda (n) (display n) (display " ") (write n) (newline))
          (list 0 -7 1/3 -7/2 1.0 -0.5 100.0 0.001 12345678901234567890))
(display (list 1 2.0 3/4)) (newline)
