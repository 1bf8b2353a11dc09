;; apply with list operations and variadic builtins
(write (apply append '((a) (b c) (d)))) (newline)
(write (apply max (map abs '(-3 2 -7 5)))) (newline)
(write (apply + (map * '(1 2 3) '(4 5 6)))) (newline)
(write (apply list 1 2 '(3))) (newline)
(write (apply string (list #\a #\b))) (newline)
(write (map (lambda (l) (apply + l)) '((1 2) (3 4 5) ()))) (newline)
