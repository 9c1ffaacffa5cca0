// Generated from ipfs_station::console::api (COMMANDS, EVENTS): the only names the
// page may call or listen to. A test fails when this file and the Rust side disagree.

export const CMD = Object.freeze({
  station_info: "station_info",
  ui_ready: "ui_ready",
  quit: "quit",
  library: "library",
  library_add: "library_add",
  library_pick: "library_pick",
  library_remove: "library_remove",
  setup_start: "setup_start",
  setup_running: "setup_running",
  audition_play: "audition_play",
  audition_stop: "audition_stop",
  audition_status: "audition_status",
  kubo_status: "kubo_status",
  kubo_start: "kubo_start",
  settings_get: "settings_get",
  settings_check: "settings_check",
  settings_apply: "settings_apply",
  schedule_get: "schedule_get",
  schedule_check: "schedule_check",
  schedule_save: "schedule_save",
  programme_at: "programme_at",
  history: "history",
  settings_pick_folder: "settings_pick_folder",
  onair_view: "onair_view",
  go_live: "go_live",
  preview_start: "preview_start",
  preview_listen: "preview_listen",
  off_air: "off_air",
  timeline: "timeline",
});

export const EVT = Object.freeze({
  setup_event: "setup://event",
  setup_prechunk: "setup://prechunk",
  setup_finished: "setup://finished",
  library_dropped: "library://dropped",
  close_requested: "console://close-requested",
  drag_over: "tauri://drag-over",
  drag_leave: "tauri://drag-leave",
});
