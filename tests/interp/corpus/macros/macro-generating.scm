;; macros that define macros, and macros used before their helpers run
(define-syntax define-alias
  (syntax-rules ()
    ((_ new old) (define-syntax new (syntax-rules () ((_ . args) (old . args)))))))
(define-alias plus +)
(define-alias my-if if)
(write (plus 1 2 3)) (newline)
(write (my-if #f 'yes 'no)) (newline)
(define-syntax define-enum
  (syntax-rules ()
    ((_ pred (val ...)) (define (pred x) (if (memq x '(val ...)) #t #f)))))
(define-enum color? (red green blue))
(write (map color? '(red yellow blue))) (newline)
(define-syntax my-let-values1
  (syntax-rules ()
    ((_ (a b) expr body ...) (call-with-values (lambda () expr) (lambda (a b) body ...)))))
(write (my-let-values1 (q r) (floor/ 17 5) (list q r))) (newline)
