;; macros expanding into loops, quasiquote and other macros
(define-syntax for-range
  (syntax-rules ()
    ((_ (v lo hi) body ...) (let loop ((v lo)) (when (< v hi) body ... (loop (+ v 1)))))))
(define out '())
(for-range (i 0 3) (for-range (j 0 2) (set! out (cons (list i j) out))))
(write (reverse out)) (newline)
(define-syntax make-point-expr
  (syntax-rules () ((_ x y) `(point ,x ,y (sum ,(+ x y))))))
(write (make-point-expr 3 4)) (newline)
(define-syntax assert-equal
  (syntax-rules ()
    ((_ expected expr) (let ((v expr)) (if (equal? v expected) 'ok (list 'fail 'expr v))))))
(write (list (assert-equal 4 (+ 2 2)) (assert-equal 5 (+ 2 2)))) (newline)
