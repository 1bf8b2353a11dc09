;; vector literals are self-evaluating and may nest any data
(write #(1 2 3)) (newline)
(write '#(a b)) (newline)
(write #(#(1) () "s" #\c 1/2)) (newline)
(write (vector-ref #(a (b c) d) 1)) (newline)
(write (vector-length #())) (newline)
(write (list #(x) '#(y))) (newline)
(write (vector 'a (vector 'b) '())) (newline)
