;; R7RS custom ellipsis identifier, and (... ...) to emit a literal ellipsis
(define-syntax my-list (syntax-rules ::: () ((_ x :::) (list x :::))))
(write (my-list 1 2 3)) (newline)
(define-syntax keep-dots (syntax-rules ::: () ((_ x :::) '(x ::: ...))))
(write (keep-dots a b)) (newline)
(define-syntax define-lister
  (syntax-rules ()
    ((_ name) (define-syntax name (syntax-rules () ((_ args (... ...)) (list 'name args (... ...))))))))
(define-lister tagged)
(write (tagged 1 2 3)) (newline)
(define-syntax quote-ellipsis (syntax-rules () ((_) '(... ...))))
(write (quote-ellipsis)) (newline)
