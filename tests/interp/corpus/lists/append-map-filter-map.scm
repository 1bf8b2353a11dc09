;; append-map and filter-map
(write (append-map (lambda (x) (list x (* x x))) '(1 2 3))) (newline)
(write (append-map (lambda (x) '()) '(1 2 3))) (newline)
(write (append-map list '(a b) '(1 2))) (newline)
(write (filter-map (lambda (x) (and (odd? x) (* x 100))) '(1 2 3 4 5))) (newline)
(write (filter-map (lambda (x y) (and (< x y) (list x y))) '(1 5 3) '(2 4 6))) (newline)
(write (filter-map (lambda (p) (assq p '((a . 1) (c . 3)))) '(a b c))) (newline)
