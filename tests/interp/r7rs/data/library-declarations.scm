;; Library declarations included by the 5 define-library-include-library-declarations case.
(export included-value included-proc)
(import (scheme base))
(include "include-a.scm")
