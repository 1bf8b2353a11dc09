;; with-output-to-string captures everything the thunk prints to the current output
(write (with-output-to-string (lambda () (display "a") (write "b") (newline) (write 'c)))) (newline)
(write (with-output-to-string (lambda () #f))) (newline)
(define s (with-output-to-string
            (lambda ()
              (for-each (lambda (x) (display x) (display ",")) '(1 2 3)))))
(write s) (newline)
(write (with-output-to-string
         (lambda ()
           (display "outer[")
           (display (with-output-to-string (lambda () (display "inner"))))
           (display "]"))))
(newline)
(display "still stdout") (newline)
