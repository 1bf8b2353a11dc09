;; converting between strings, symbols and numbers
(write (symbol->string 'abc)) (newline)
(write (string->symbol "xyz")) (newline)
(write (number->string 3/4)) (newline)
(write (string->number "-12")) (newline)
(write (string-append (symbol->string 'id) "-" (number->string 7))) (newline)
(write (map (lambda (s) (string->number s)) '("1" "2.5" "x" "1/3"))) (newline)
(write (eq? (string->symbol "abc") 'abc)) (newline)
