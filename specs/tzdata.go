package specs

// Embedded tzdata lets time.LoadLocation("Asia/Almaty") work on hosts and
// containers without /usr/share/zoneinfo.
import _ "time/tzdata"
