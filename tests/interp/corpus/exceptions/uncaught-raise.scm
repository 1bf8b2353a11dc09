;; raising a non-error object with no handler ends the program
(display "start") (newline)
(write (list 1 2 3)) (newline)
(raise 'unhandled-symbol)
(display "never printed") (newline)
