;; number->string, with and without radix
(write (list (number->string 42) (number->string -17) (number->string 1/3) (number->string 0))) (newline)
(write (list (number->string 255 16) (number->string 255 2) (number->string 255 8) (number->string 255 10))) (newline)
(write (list (number->string -255 16) (number->string 3/4 2) (number->string (expt 2 70) 16))) (newline)
(write (list (number->string 1.5) (number->string 0.25) (number->string -2.0))) (newline)
(write (string-append "n=" (number->string (* 6 7)))) (newline)
(write (number->string 123456789012345678901234567890)) (newline)
