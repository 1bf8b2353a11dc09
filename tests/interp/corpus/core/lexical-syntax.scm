;; reader syntax: comments of all kinds, string escapes, character names, case
#| a block comment
   #| nested |# still comment |#
(write '(1 #;(ignored datum) 2 #; 3 4)) (newline)
(write "tab\there") (newline)
(write (string-length "a\\b")) (newline)
(write "\x41;\x3bb;") (newline)
(write (list #\x41 #\space #\newline #\tab #\a #\A #\( #\;)) (newline)
(write (char->integer #\x3bb)) (newline)
(write '(ABC abc Abc)) (newline)
(write (list #x1F #b101 #o17 #d99 #e1.5 -0 +7)) (newline)
(write "line one\nline two") (newline)
(display "displayed \"quotes\" and \\") (newline)
(write "a string with a \
       line continuation") (newline)
; trailing comment
