;; string->vector and vector->string with ranges
(write (string->vector "hello")) (newline)
(write (string->vector "hello" 1)) (newline)
(write (string->vector "hello" 1 3)) (newline)
(write (vector->string #(#\a #\b #\c))) (newline)
(write (vector->string #(#\a #\b #\c) 1)) (newline)
(write (vector->string #(#\a #\b #\c) 0 2)) (newline)
(write (vector->string (vector-map char-upcase (string->vector "shout")))) (newline)
