;; case conversion of strings and characters
(write (string-upcase "Hello World 42")) (newline)
(write (string-downcase "Hello World 42")) (newline)
(write (string-foldcase "MiXeD")) (newline)
(write (map char-upcase (string->list "ab1"))) (newline)
(write (map char-downcase (string->list "AB1"))) (newline)
(write (char-foldcase #\Z)) (newline)
(define (capitalize w)
  (if (string=? w "") w
      (string-append (string (char-upcase (string-ref w 0))) (string-downcase (substring w 1 (string-length w))))))
(write (map capitalize '("hello" "WORLD" "" "x"))) (newline)
