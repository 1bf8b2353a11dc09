;; recursive macros: my-and, a while loop, and a macro producing definitions
(define-syntax my-and
  (syntax-rules ()
    ((_) #t)
    ((_ e) e)
    ((_ e r ...) (if e (my-and r ...) #f))))
(write (list (my-and) (my-and 1 2 3) (my-and 1 #f 3))) (newline)
(define-syntax while
  (syntax-rules ()
    ((_ c body ...) (let lp () (when c body ... (lp))))))
(define i 0)
(define acc '())
(while (< i 5) (set! acc (cons i acc)) (set! i (+ i 1)))
(write acc) (newline)
(define-syntax define-getters
  (syntax-rules ()
    ((_ (name val)) (define (name) val))
    ((_ (name val) more ...) (begin (define (name) val) (define-getters more ...)))))
(define-getters (get-a 'a) (get-b 'b) (get-c 'c))
(write (list (get-a) (get-b) (get-c))) (newline)
(define-syntax count-args
  (syntax-rules () ((_) 0) ((_ x rest ...) (+ 1 (count-args rest ...)))))
(write (count-args a b c d e)) (newline)
