// The subset of Home Assistant's discovery abbreviations (homeassistant/components/mqtt/
// abbreviations.py) for the options Sluice reads; other keys are kept as sent.
export const ABBREVIATIONS = new Map<string, string>([
  ['avty', 'availability'],
  ['avty_mode', 'availability_mode'],
  ['avty_t', 'availability_topic'],
  ['avty_tpl', 'availability_template'],
  ['bri_scl', 'brightness_scale'],
  ['bri_stat_t', 'brightness_state_topic'],
  ['bri_val_tpl', 'brightness_value_template'],
  ['clr_temp_k', 'color_temp_kelvin'],
  ['clr_temp_stat_t', 'color_temp_state_topic'],
  ['clr_temp_val_tpl', 'color_temp_value_template'],
  ['cmd_t', 'command_topic'],
  ['cmps', 'components'],
  ['curr_temp_t', 'current_temperature_topic'],
  ['curr_temp_tpl', 'current_temperature_template'],
  ['dev', 'device'],
  ['dev_cla', 'device_class'],
  ['en', 'enabled_by_default'],
  ['ent_cat', 'entity_category'],
  ['exp_aft', 'expire_after'],
  ['json_attr_t', 'json_attributes_topic'],
  ['max_temp', 'max_temp'],
  ['min_temp', 'min_temp'],
  ['mode_stat_t', 'mode_state_topic'],
  ['mode_stat_tpl', 'mode_state_template'],
  ['modes', 'modes'],
  ['o', 'origin'],
  ['obj_id', 'object_id'],
  ['p', 'platform'],
  ['pl_avail', 'payload_available'],
  ['pl_not_avail', 'payload_not_available'],
  ['pl_off', 'payload_off'],
  ['pl_on', 'payload_on'],
  ['stat_cla', 'state_class'],
  ['stat_off', 'state_off'],
  ['stat_on', 'state_on'],
  ['stat_t', 'state_topic'],
  ['stat_tpl', 'state_template'],
  ['stat_val_tpl', 'state_value_template'],
  ['sug_dsp_prc', 'suggested_display_precision'],
  ['temp_stat_t', 'temperature_state_topic'],
  ['temp_stat_tpl', 'temperature_state_template'],
  ['t', 'topic'],
  ['temp_unit', 'temperature_unit'],
  ['uniq_id', 'unique_id'],
  ['unit_of_meas', 'unit_of_measurement'],
  ['val_tpl', 'value_template'],
]);

export const DEVICE_ABBREVIATIONS = new Map<string, string>([
  ['cns', 'connections'],
  ['ids', 'identifiers'],
  ['name', 'name'],
  ['mf', 'manufacturer'],
  ['mdl', 'model'],
  ['mdl_id', 'model_id'],
  ['hw', 'hw_version'],
  ['sw', 'sw_version'],
  ['sa', 'suggested_area'],
  ['sn', 'serial_number'],
  ['via_device', 'via_device'],
]);

/** Expands abbreviated keys; keys are copied as own properties only. */
export function expand(obj: Record<string, unknown>, table: Map<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const k of Object.keys(obj)) out[table.get(k) ?? k] = obj[k];
  return out;
}
