// Forms built from a model's `parameters` (GET /v1/models): a flat JSON Schema object
// whose properties are strings, integers, numbers or booleans, possibly with an enum,
// bounds, a step, a pattern and a description. Pure functions, no DOM: the page renders
// the descriptors, keeps the values as the inputs give them (strings and booleans), and
// turns them back into the `params` of POST /v1/generations.

export type FieldKind = 'select' | 'number' | 'integer' | 'checkbox' | 'text' | 'textarea';

export interface FieldOption {
	/** What the <option> carries: always a string. */
	value: string;
	label: string;
}

export interface FieldDescriptor {
	name: string;
	kind: FieldKind;
	label: string;
	description: string | null;
	required: boolean;
	/** The value the input starts with ('' for none; a boolean for checkboxes). */
	default: FormValue;
	min?: number;
	max?: number;
	exclusiveMin?: number;
	exclusiveMax?: number;
	/** For number inputs: the step ('any' when a number has none). */
	step?: number | 'any';
	minLength?: number;
	maxLength?: number;
	pattern?: string;
	/** For selects: the choices, in the schema's order. */
	options?: FieldOption[];
	/** For selects: the schema's values, by option value, to send them with their type. */
	optionValues?: Record<string, string | number | boolean>;
	/** For text inputs: the schema's `examples`, offered as suggestions (any value goes). */
	suggestions?: string[];
}

export type FormValue = string | boolean;
export type FormValues = Record<string, FormValue>;
export type Params = Record<string, string | number | boolean>;

export interface ParamsResult {
	params: Params;
	/** A sentence per field that is not right, by field name; empty when all are. */
	errors: Record<string, string>;
	ok: boolean;
}

type JsonSchema = Record<string, unknown>;

/** Long strings get a textarea; a name such as negative_prompt does too. */
const TEXTAREA_MIN_LENGTH = 256;
const TEXTAREA_NAMES = /(prompt|text|description|lyrics)$/;

function isObject(value: unknown): value is JsonSchema {
	return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function num(value: unknown): number | undefined {
	return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** "duration_seconds" → "Duration seconds". */
export function labelFor(name: string): string {
	const words = name.replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/[_-]+/g, ' ').trim().toLowerCase();
	return words.charAt(0).toUpperCase() + words.slice(1);
}

/** The property's own schema with a nullable union (anyOf [X, null] or type [X, "null"])
 * reduced to X; null when it is a union of several types, which a form cannot offer. */
function flatten(property: JsonSchema): JsonSchema | null {
	let flat: JsonSchema = property;
	if (Array.isArray(property.anyOf) || Array.isArray(property.oneOf)) {
		const options = ((property.anyOf ?? property.oneOf) as unknown[]).filter(
			(option) => isObject(option) && option.type !== 'null'
		) as JsonSchema[];
		if (options.length !== 1) return null;
		const rest = { ...property };
		delete rest.anyOf;
		delete rest.oneOf;
		flat = { ...options[0], ...rest };
	}
	if (Array.isArray(flat.type)) {
		const types = (flat.type as unknown[]).filter((t) => t !== 'null');
		if (types.length !== 1) return null;
		flat = { ...flat, type: types[0] };
	}
	if (flat.type === undefined && Array.isArray(flat.enum)) {
		const values = (flat.enum as unknown[]).filter((v) => v !== null);
		const kinds = new Set(values.map((v) => typeof v));
		if (kinds.size === 1) flat = { ...flat, type: kinds.has('string') ? 'string' : kinds.has('boolean') ? 'boolean' : 'number' };
	}
	return flat;
}

function initial(value: unknown, kind: FieldKind): FormValue {
	if (kind === 'checkbox') return value === true;
	if (value === null || value === undefined) return '';
	return String(value);
}

function describe(name: string, property: JsonSchema, required: boolean): FieldDescriptor | null {
	const flat = flatten(property);
	if (!flat) return null;
	const type = flat.type;
	const base = {
		name,
		label: typeof flat.title === 'string' && flat.title.trim() ? flat.title.trim() : labelFor(name),
		description: typeof flat.description === 'string' && flat.description ? flat.description : null,
		required
	};

	if (Array.isArray(flat.enum)) {
		const values = (flat.enum as unknown[]).filter(
			(v): v is string | number | boolean => ['string', 'number', 'boolean'].includes(typeof v)
		);
		const optionValues: Record<string, string | number | boolean> = {};
		for (const v of values) optionValues[String(v)] = v;
		return {
			...base,
			kind: 'select',
			default: initial(flat.default, 'select'),
			options: values.map((v) => ({ value: String(v), label: String(v) })),
			optionValues
		};
	}
	if (type === 'boolean') return { ...base, kind: 'checkbox', default: initial(flat.default, 'checkbox') };
	if (type === 'integer' || type === 'number') {
		const multiple = num(flat.multipleOf);
		return {
			...base,
			kind: type,
			default: initial(flat.default, type),
			min: num(flat.minimum),
			max: num(flat.maximum),
			exclusiveMin: num(flat.exclusiveMinimum),
			exclusiveMax: num(flat.exclusiveMaximum),
			step: multiple ?? (type === 'integer' ? 1 : 'any')
		};
	}
	if (type === 'string') {
		const maxLength = num(flat.maxLength);
		const long = (maxLength !== undefined && maxLength >= TEXTAREA_MIN_LENGTH) || TEXTAREA_NAMES.test(name);
		return {
			...base,
			kind: long ? 'textarea' : 'text',
			default: initial(flat.default, 'text'),
			minLength: num(flat.minLength),
			maxLength,
			pattern: typeof flat.pattern === 'string' ? flat.pattern : undefined,
			suggestions: Array.isArray(flat.examples)
				? (flat.examples as unknown[]).filter((v): v is string => typeof v === 'string')
				: undefined
		};
	}
	return null;
}

/** The fields of a parameters schema, in the schema's order. Properties a form cannot
 * offer (objects, arrays, unions of types) are left out: the API then uses its default. */
export function fieldsFromSchema(schema: unknown): FieldDescriptor[] {
	if (!isObject(schema) || !isObject(schema.properties)) return [];
	const required = new Set(Array.isArray(schema.required) ? (schema.required as unknown[]).map(String) : []);
	const fields: FieldDescriptor[] = [];
	for (const [name, property] of Object.entries(schema.properties)) {
		if (!isObject(property)) continue;
		const field = describe(name, property, required.has(name));
		if (field) fields.push(field);
	}
	return fields;
}

/** The values a new form starts with: each field's default. */
export function initialValues(fields: FieldDescriptor[]): FormValues {
	return Object.fromEntries(fields.map((f) => [f.name, f.default]));
}

/** The form's values for given params (a generation run again, or a reloaded page);
 * fields the params do not set keep their defaults, unknown params are ignored. */
export function valuesFromParams(fields: FieldDescriptor[], params: Record<string, unknown> | null | undefined): FormValues {
	const values = initialValues(fields);
	for (const field of fields) {
		const value = params?.[field.name];
		if (value === undefined || value === null) continue;
		values[field.name] = field.kind === 'checkbox' ? value === true : String(value);
	}
	return values;
}

function plain(n: number): string {
	return String(Number(n.toPrecision(12)));
}

function isMultiple(value: number, step: number): boolean {
	const ratio = value / step;
	return Math.abs(ratio - Math.round(ratio)) < 1e-9;
}

function checkNumber(field: FieldDescriptor, raw: string): { value?: number; error?: string } {
	const text = raw.trim();
	const value = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text) ? Number(text) : NaN;
	if (!Number.isFinite(value)) return { error: field.kind === 'integer' ? 'Enter a whole number.' : 'Enter a number.' };
	if (field.kind === 'integer' && !Number.isInteger(value)) return { error: 'Enter a whole number.' };
	if (field.min !== undefined && value < field.min) return { error: `Enter at least ${plain(field.min)}.` };
	if (field.max !== undefined && value > field.max) return { error: `Enter at most ${plain(field.max)}.` };
	if (field.exclusiveMin !== undefined && value <= field.exclusiveMin)
		return { error: `Enter more than ${plain(field.exclusiveMin)}.` };
	if (field.exclusiveMax !== undefined && value >= field.exclusiveMax)
		return { error: `Enter less than ${plain(field.exclusiveMax)}.` };
	if (typeof field.step === 'number' && !(field.kind === 'integer' && field.step === 1) && !isMultiple(value, field.step))
		return { error: `Enter a multiple of ${plain(field.step)}.` };
	return { value };
}

function checkText(field: FieldDescriptor, text: string): string | undefined {
	const length = [...text].length;
	if (field.minLength !== undefined && length < field.minLength)
		return `Enter at least ${field.minLength} character${field.minLength === 1 ? '' : 's'}.`;
	if (field.maxLength !== undefined && length > field.maxLength)
		return `Enter at most ${field.maxLength} characters (this is ${length}).`;
	if (field.pattern !== undefined) {
		let matches = true;
		try {
			matches = new RegExp(field.pattern, 'u').test(text);
		} catch {
			matches = true; // a pattern this browser cannot read: the API still checks it
		}
		if (!matches) return field.description ? `Not in the expected form: ${field.description}.` : 'Not in the expected form.';
	}
	return undefined;
}

/** The params to send for the form's values, and what is wrong with them. Empty optional
 * values are left out (the provider's default applies); numbers become numbers; enum
 * values get their schema type back; strings are trimmed. */
export function toParams(fields: FieldDescriptor[], values: FormValues): ParamsResult {
	const params: Params = {};
	const errors: Record<string, string> = {};
	for (const field of fields) {
		const raw = values[field.name];
		if (field.kind === 'checkbox') {
			const checked = raw === true || raw === 'true';
			// An unticked optional box without a default means "the provider's default".
			if (checked || field.required || field.default === true) params[field.name] = checked;
			continue;
		}
		const text = typeof raw === 'string' ? raw.trim() : '';
		if (text === '') {
			if (field.required) errors[field.name] = field.kind === 'select' ? 'Choose a value.' : 'Enter a value.';
			continue;
		}
		if (field.kind === 'select') {
			const value = field.optionValues?.[text];
			if (value === undefined) errors[field.name] = `Choose one of ${(field.options ?? []).map((o) => o.label).join(', ')}.`;
			else params[field.name] = value;
		} else if (field.kind === 'integer' || field.kind === 'number') {
			const { value, error } = checkNumber(field, text);
			if (error) errors[field.name] = error;
			else params[field.name] = value as number;
		} else {
			const error = checkText(field, text);
			if (error) errors[field.name] = error;
			else params[field.name] = text;
		}
	}
	return { params, errors, ok: Object.keys(errors).length === 0 };
}
