// Block Kit action and block ids: one place, snake_case.
export const ids = {
  panicConfirm: "panic_confirm",
  panicCancel: "panic_cancel",
  clearApprove: "clear_approve",
  clearReject: "clear_reject",
  rotateApprove: "rotate_approve",
  rotateReject: "rotate_reject",
  openSop: "open_sop",
  alertAck: "alert_ack",
  statusRefresh: "status_refresh",
} as const;
