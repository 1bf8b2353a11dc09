;; write escapes strings; display prints them raw
(define s "quote\" backslash\\ newline\n tab\t end")
(write s) (newline)
(display s) (newline)
(write (string-length s)) (newline)
(write (list "a" "" "b c")) (newline)
(display (list "a" "" "b c")) (newline)
(write (string #\" #\\)) (newline)
(write (string->list "\t\n")) (newline)
