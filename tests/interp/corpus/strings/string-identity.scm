;; strings made by string, string-copy, string-append, substring are newly allocated:
;; equal? to their source but never eq? to it or to a literal
(define lit "b")
(define made (string #\b))
(write (list (equal? lit made) (eq? lit made) (eqv? lit made))) (newline)
(define s "hello")
(define c (string-copy s))
(write (list (equal? s c) (eq? s c))) (newline)
(write (memq made (list "a" lit))) (newline)
(write (member made (list "a" lit))) (newline)
(write (eq? (string-append "a" "b") (string-append "a" "b"))) (newline)
(write (eq? (substring "abc" 0 1) (substring "abc" 0 1))) (newline)
(write (let ((x (string #\z))) (eq? x x))) (newline)
