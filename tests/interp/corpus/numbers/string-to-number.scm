;; string->number: radixes, prefixes, rationals, decimals, failures give #f
(write (list (string->number "42") (string->number "-17") (string->number "+5") (string->number "1/2"))) (newline)
(write (list (string->number "ff" 16) (string->number "FF" 16) (string->number "101" 2) (string->number "777" 8))) (newline)
(write (list (string->number "#xff") (string->number "#b1010") (string->number "#o17") (string->number "#d10"))) (newline)
(write (list (string->number "1.5") (string->number ".5") (string->number "-2.25") (string->number "1e3"))) (newline)
(write (list (string->number "#e1.5") (string->number "#i3/4") (string->number "6/4"))) (newline)
(write (list (string->number "abc") (string->number "") (string->number "1/0x") (string->number "12a") (string->number "-"))) (newline)
(write (list (string->number "z" 16) (string->number "10" 16) (string->number "12" 8))) (newline)
(write (string->number "123456789012345678901234567890")) (newline)
