;; the external representation of a bytevector
(write (bytevector 1 2 3)) (newline)
(write (make-bytevector 2 0)) (newline)
(write #u8(255 0)) (newline)
(display (bytevector)) (newline)
