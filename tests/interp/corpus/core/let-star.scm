;; let*: each init sees the previous bindings; duplicate names allowed
(write (let* ((x 1) (y (+ x 1)) (z (* y 10))) (list x y z))) (newline)
(write (let* () 'nothing)) (newline)
(write (let* ((x 1) (x (+ x 1)) (x (* x 5))) x)) (newline)
(define x 100)
(write (let* ((y x) (x 1)) (list x y))) (newline)
(write (let* ((f (lambda (n) (+ n 1))) (g (lambda (n) (f (f n))))) (g 0))) (newline)
(write (let* ((lst (list 3 1 2)) (sorted (sort lst <)) (first (car sorted))) first)) (newline)
