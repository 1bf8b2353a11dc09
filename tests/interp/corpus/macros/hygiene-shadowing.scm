;; hygiene: local rebinding of if, list, or cons at the use site does not break macros
(define-syntax my-or2
  (syntax-rules () ((_ a b) (let ((t a)) (if t t b)))))
(write (let ((if (lambda args 'user-if))) (my-or2 #f 'second))) (newline)
(define-syntax make-pair-list
  (syntax-rules () ((_ a b) (list (cons a b)))))
(write (let ((list vector) (cons +)) (make-pair-list 1 2))) (newline)
(define-syntax my-when
  (syntax-rules () ((_ c e ...) (if c (begin e ...) #f))))
(write (let ((begin 'not-begin)) (my-when #t 1 2 3))) (newline)
(define helper (lambda () 'global-helper))
(define-syntax call-helper (syntax-rules () ((_) (helper))))
(write (let ((helper (lambda () 'local-helper))) (call-helper))) (newline)
