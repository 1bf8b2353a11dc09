;; Includes another file: a path in an included file is relative to this file.
(include "include-a.scm")
(define included-nested (+ included-value 1))
