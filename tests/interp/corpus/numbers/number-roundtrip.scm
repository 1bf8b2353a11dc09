;; string->number inverts number->string
(define (rt x) (equal? x (string->number (number->string x))))
(write (map rt (list 0 1 -1 12345 (expt 2 100) 1/3 -22/7 0.5 1.5 -2.25 0.1 3.14159))) (newline)
(define (rt-radix x r) (= x (string->number (number->string x r) r)))
(write (map (lambda (r) (rt-radix 123456789 r)) '(2 8 10 16))) (newline)
(write (map (lambda (r) (number->string 100 r)) '(2 8 10 16))) (newline)
