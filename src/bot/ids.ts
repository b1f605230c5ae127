// Block Kit action and block ids: one place, snake_case.
export const ids = {
  panicConfirm: "panic_confirm",
  panicCancel: "panic_cancel",
  clearApprove: "clear_approve",
  clearReject: "clear_reject",
  openSop: "open_sop",
  alertAck: "alert_ack",
  statusRefresh: "status_refresh",
} as const;

/** Slash commands and the role each needs (null: anyone in the workspace). */
export const commandRoles = {
  "/panic": "panic",
  "/clear": "clear",
  "/status": null,
  "/recon": null,
  "/rotate": "rotate",
  "/runbook": null,
} as const;
