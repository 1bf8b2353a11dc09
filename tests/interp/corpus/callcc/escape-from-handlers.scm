;; continuations escape through map, for-each, apply and sort callbacks
(write (call/cc (lambda (k) (map (lambda (x) (if (> x 2) (k (list 'stopped-at x)) x)) '(1 2 3 4))))) (newline)
(write (call/cc (lambda (k) (apply (lambda args (k (length args))) '(a b c))))) (newline)
(write (call/cc (lambda (k) (sort '(3 1 2) (lambda (a b) (k 'escaped-from-sort)))))) (newline)
(write (call/cc (lambda (k) (vector-for-each (lambda (x) (when (eq? x 'b) (k 'found-b))) #(a b c)) 'not-found))) (newline)
(write (call/cc (lambda (k) (with-exception-handler (lambda (e) (k (list 'handled e))) (lambda () (raise 'oops)))))) (newline)
(write (call/cc (lambda (k) (string-for-each (lambda (c) (when (char=? c #\x) (k 'has-x))) "abxd") 'no-x))) (newline)
