;; the cxr accessors up to four levels
(import (scheme base) (scheme cxr) (scheme write))
(define t '((1 2) (3 4) (5 6) (7 8)))
(write (list (caar t) (cadr t) (cdar t) (cddr t))) (newline)
(write (list (caadr t) (cadar t) (caddr t) (cdadr t) (cddar t) (cdddr t))) (newline)
(write (list (cadddr t) (cddddr t) (caaddr t))) (newline)
(define deep '(((a b) c) d))
(write (list (caaar deep) (cdaar deep)))
(newline)
