;; list? vs pair? vs null?, including improper and circular lists
(define circ (list 1 2 3))
(set-cdr! (cddr circ) circ)
(define (preds x) (list (list? x) (pair? x) (null? x)))
(write (map preds (list '() '(1) '(1 2 . 3) 5 (cons 1 2)))) (newline)
(write (preds circ)) (newline)
(write (list (car circ) (cadddr circ))) (newline)
(write (list? (list 1 (list 2 3)))) (newline)
