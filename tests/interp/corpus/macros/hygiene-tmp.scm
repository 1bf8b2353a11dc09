;; hygiene: a temporary introduced by a macro never captures the user's variable
(define-syntax swap!
  (syntax-rules ()
    ((_ a b) (let ((tmp a)) (set! a b) (set! b tmp)))))
(define tmp 'user-tmp)
(define other 'other)
(swap! tmp other)
(write (list tmp other)) (newline)
(let ((tmp 1) (x 2))
  (swap! tmp x)
  (write (list tmp x)) (newline))
(define-syntax my-or2
  (syntax-rules () ((_ a b) (let ((t a)) (if t t b)))))
(define t 'user-t)
(write (my-or2 #f t)) (newline)
(write (let ((t 5)) (my-or2 #f t))) (newline)
(define-syntax with-result
  (syntax-rules () ((_ e) (let ((result e)) (list 'result result)))))
(define result 'outer)
(write (with-result result)) (newline)
