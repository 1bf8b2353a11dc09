;; delay/force: memoisation, promise?, make-promise
(define count 0)
(define p (delay (begin (set! count (+ count 1)) (* 6 7))))
(write (promise? p)) (newline)
(write (list (force p) (force p) count)) (newline)
(write (force (make-promise 5))) (newline)
(write (promise? (make-promise 5))) (newline)
(write (force (delay (force (delay 'nested))))) (newline)
(define self-ref
  (letrec ((q (delay (if (promise? q) 'sees-itself 'no)))) q))
(write (force self-ref)) (newline)
(write (map promise? (list 1 'p (lambda () 1)))) (newline)
