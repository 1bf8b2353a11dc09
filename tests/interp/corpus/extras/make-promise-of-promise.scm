;; R7RS 4.2.5: (make-promise obj) returns obj itself when obj is already a promise,
;; so forcing it yields the inner value, never another promise
(define p (delay (+ 40 2)))
(write (eq? (make-promise p) p)) (newline)
(write (promise? (force (make-promise p)))) (newline)
(write (promise? (force (make-promise (make-promise 'plain))))) (newline)
(write (force p)) (newline)
