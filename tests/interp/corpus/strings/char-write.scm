;; write uses #\ notation and standard names; display prints the character itself
(write (list #\a #\Z #\0 #\space #\newline #\tab #\( #\) #\# #\\ #\")) (newline)
(write (list #\alarm #\backspace #\delete #\return)) (newline)
(display (list #\a #\b)) (newline)
(write (integer->char 32)) (newline)
(write (string->list "a b")) (newline)
(display #\x) (display #\y) (newline)
