;; string comparison, case-sensitive and case-insensitive, several arguments
(write (list (string=? "abc" "abc") (string=? "abc" "abd") (string=? "a" "a" "a"))) (newline)
(write (list (string<? "abc" "abd") (string<? "ab" "abc") (string<? "b" "abc") (string<? "a" "b" "c"))) (newline)
(write (list (string>? "b" "a") (string<=? "a" "a") (string>=? "a" "b"))) (newline)
(write (list (string<? "Zebra" "apple") (string-ci<? "Zebra" "apple"))) (newline)
(write (list (string-ci=? "HeLLo" "hello") (string-ci=? "a" "b") (string-ci>? "B" "a"))) (newline)
(write (list (string=? "" "") (string<? "" "a"))) (newline)
