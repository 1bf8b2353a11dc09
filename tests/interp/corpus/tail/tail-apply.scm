;; apply and call-with-values in tail position do not grow the stack
(define (loop-apply n) (if (= n 0) 'apply-done (apply loop-apply (list (- n 1)))))
(display (loop-apply 100000)) (newline)
(define (loop-cwv n)
  (if (= n 0) 'cwv-done
      (call-with-values (lambda () (values (- n 1))) loop-cwv)))
(display (loop-cwv 100000)) (newline)
(define (loop-higher f n) (if (= n 0) 'higher-done (f f (- n 1))))
(display (loop-higher loop-higher 100000)) (newline)
(define (loop-dw n)
  (if (= n 0) 'dw-done
      (dynamic-wind (lambda () #f) (lambda () n) (lambda () #f))))
(display (loop-dw 5)) (newline)
