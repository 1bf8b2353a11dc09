;; find returns the element, find-tail the sublist; #f when nothing matches
(write (find even? '(1 3 4 5 6))) (newline)
(write (find even? '(1 3 5))) (newline)
(write (find-tail even? '(1 3 4 5 6))) (newline)
(write (find-tail even? '(1 3))) (newline)
(write (find (lambda (p) (eq? (car p) 'k)) '((j . 1) (k . 2) (k . 3)))) (newline)
(write (find (lambda (x) (not x)) '(1 #f 2))) (newline)
(define l (list 'a 'b 'c))
(write (eq? (find-tail (lambda (x) (eq? x 'b)) l) (cdr l))) (newline)
