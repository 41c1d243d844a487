/**
 * docs/troubleshooting.md, held true: every reason the plugin can report (an outcome's
 * `reason`, skipped, failed, retrying or sent) and every settings error is a row of it, and every
 * row is a reason the source can give.
 *
 * The reasons are read from src/*.ts with the TypeScript compiler, not listed here, so a reason
 * added anywhere is found. Where a reason can come from:
 * - an object literal's `skip` or `reason` property (mapping's `{ skip: '…' }`, an outcome's
 *   `{ status, reason }`, `reason` in shorthand);
 * - an error's message: the first argument of a built-in error's constructor (`new TypeError(…)`),
 *   of a class deriving from one without a constructor of its own, or of `super(…)` in a class
 *   that derives from one directly.
 * Each is evaluated as far as the source tells: string literals, templates, `+`, conditionals,
 * consts (across files), tables walked by `for…of` and `.find()` (also one a function of a single
 * expression makes), and a function's parameters at each of its call sites (so `skip('…')`,
 * `fail('setting', rule)` and `new RetryableError('…')` give their words). What can't be known statically (a status, an error's message, a number) is a
 * placeholder: in the table, any `<name>` in its place. A reason that is only placeholders and
 * punctuation (`${error.message}; ${problem.message}`) joins reasons that have rows of their own.
 */
import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { relative } from 'node:path'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const SRC = fileURLToPath(new URL('../src/', import.meta.url))
/** What stands for a value only known at run time, in a reason as extracted and in a normalized row. */
const HOLE = '␟'

// ---- Reading the source -------------------------------------------------------------------------

// src/ and its folders (src/server/).
const files = readdirSync(SRC, { recursive: true, encoding: 'utf8' })
  .filter((file) => file.endsWith('.ts'))
  .map((file) => `${SRC}${file}`)
/**
 * In Stryker's sandbox (npm run test:mutation) src/ holds every mutant at once, each behind a switch:
 * read statically, it would give every mutant's words. This test is about the source as written.
 */
const instrumented = files.some((file) => readFileSync(file, 'utf8').includes('stryMutAct_9fa48'))
const program = ts.createProgram(files, {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.ESNext,
  moduleResolution: ts.ModuleResolutionKind.Bundler,
  // src/ alone, without the DOM's or analytics-next's types: parsing those would take seconds, and the
  // reasons don't depend on them (a parameter's own type says whether it can be undefined).
  lib: ['lib.es2022.d.ts'],
  types: [],
  noResolve: true,
  strict: true,
  skipLibCheck: true,
  noEmit: true,
})
const checker = program.getTypeChecker()
const sources = program.getSourceFiles().filter((file) => file.fileName.startsWith(SRC))
assert.ok(sources.length === files.length, `the compiler read ${sources.length} of the ${files.length} files in src/`)

const where = (node: ts.Node) => {
  const file = node.getSourceFile()
  return `${relative(ROOT, file.fileName)}:${file.getLineAndCharacterOfPosition(node.getStart()).line + 1}`
}

function walk(node: ts.Node, visit: (node: ts.Node) => void) {
  visit(node)
  node.forEachChild((child) => walk(child, visit))
}

function symbolOf(node: ts.Node): ts.Symbol | undefined {
  // `{ reason }`: the value it takes, not the property it makes.
  const symbol =
    ts.isShorthandPropertyAssignment(node.parent) && node.parent.name === node
      ? checker.getShorthandAssignmentValueSymbol(node.parent)
      : checker.getSymbolAtLocation(node)
  return symbol && symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol
}

/** Every identifier of src/ by its name: a name's references are among these (the compiler tells which). */
const identifiers = new Map<string, ts.Identifier[]>()
for (const source of sources) {
  walk(source, (node) => {
    if (ts.isIdentifier(node)) identifiers.set(node.text, [...(identifiers.get(node.text) ?? []), node])
  })
}
const referencesOf = (name: ts.Identifier) => {
  const symbol = symbolOf(name)
  return (identifiers.get(name.text) ?? []).filter(
    (identifier) => identifier !== name && symbolOf(identifier) === symbol,
  )
}

const isBuiltInError = (symbol: ts.Symbol | undefined) =>
  !!symbol?.declarations?.length &&
  /Error$/.test(symbol.name) &&
  symbol.declarations.every((declaration) => program.isSourceFileDefaultLibrary(declaration.getSourceFile()))

const classOf = (symbol: ts.Symbol | undefined) => symbol?.declarations?.find(ts.isClassDeclaration)
const constructorOf = (declaration: ts.ClassDeclaration) => declaration.members.find(ts.isConstructorDeclaration)
const parentOf = (declaration: ts.ClassDeclaration) => {
  const extended = declaration.heritageClauses?.find((clause) => clause.token === ts.SyntaxKind.ExtendsKeyword)
  const type = extended?.types[0]
  return type && symbolOf(type.expression)
}
/** The symbol whose constructor a `new` of this class, or a `super(…)` in its subclass, runs first. */
function constructed(symbol: ts.Symbol | undefined): ts.Symbol | undefined {
  const declaration = classOf(symbol)
  if (!declaration || constructorOf(declaration)) return symbol
  return constructed(parentOf(declaration))
}

// ---- Evaluating what a reason can be ----------------------------------------------------------

/** A value as far as the source tells: text (holes marked), an array literal's elements, nothing, or unknown. */
type Value =
  | { text: string; number?: true }
  | { elements: readonly ts.Expression[] }
  | { none: true }
  | { unknown: true; maybeUndefined: boolean }
/**
 * One thing a value can be, and the choices it took on the way: which element of a table, which
 * call site of a function. Parts of one reason must agree on each choice.
 */
interface Alternative {
  value: Value
  choices: ReadonlyMap<ts.Node, number>
  /** The call site that gave it its words, when it came through a parameter. */
  at?: ts.Node
}

const NONE: Value = { none: true }
/** Unknown, and never undefined. */
const UNKNOWN_DEFINED: Value = { unknown: true, maybeUndefined: false }
const one = (value: Value, at?: ts.Node): Alternative[] => [{ value, choices: new Map(), at }]

function unknownOf(node: ts.Node): Alternative[] {
  const type = checker.getTypeAtLocation(node)
  const loose = ts.TypeFlags.Any | ts.TypeFlags.Unknown | ts.TypeFlags.Undefined | ts.TypeFlags.Void
  const maybeUndefined = (type.isUnion() ? type.types : [type]).some((part) => part.flags & loose)
  return one({ unknown: true, maybeUndefined })
}

function agree(a: ReadonlyMap<ts.Node, number>, b: ReadonlyMap<ts.Node, number>) {
  const merged = new Map(a)
  for (const [node, choice] of b) {
    if (merged.has(node) && merged.get(node) !== choice) return undefined
    merged.set(node, choice)
  }
  return merged
}

/** Every agreeing combination of one alternative from each list. */
function combine(lists: Alternative[][], join: (values: Value[]) => Value): Alternative[] {
  let partial: Array<{ values: Value[]; choices: ReadonlyMap<ts.Node, number>; at?: ts.Node }> = [
    { values: [], choices: new Map() },
  ]
  for (const list of lists) {
    const next: typeof partial = []
    for (const done of partial) {
      for (const alternative of list) {
        const choices = agree(done.choices, alternative.choices)
        if (choices) next.push({ values: [...done.values, alternative.value], choices, at: done.at ?? alternative.at })
      }
    }
    partial = next
    assert.ok(partial.length <= 1000, 'too many combinations: the extraction needs a narrower rule')
  }
  return partial.map(({ values, choices, at }) => ({ value: join(values), choices, at }))
}

/** Values as text, for a template or `+`: nothing in it drops the combination, unknowns are holes. */
function concatenate(values: Value[]): Value {
  if (values.some((value) => 'none' in value)) return NONE
  return { text: values.map((value) => ('text' in value ? value.text : HOLE)).join('') }
}

/** `+`: text when a side is known text; a sum of numbers, or anything with an unknown number, is unknown. */
function add(values: Value[]): Value {
  const isString = (value: Value) => 'text' in value && !value.number
  if (values.some((value) => 'none' in value) || !values.some(isString)) return UNKNOWN_DEFINED
  return concatenate(values)
}

/** Guards against a value defined in terms of itself. */
const evaluating = new Set<ts.Node>()

function evaluate(node: ts.Expression): Alternative[] {
  if (evaluating.has(node)) return unknownOf(node)
  evaluating.add(node)
  try {
    return evaluateOnce(node)
  } finally {
    evaluating.delete(node)
  }
}

function evaluateOnce(node: ts.Expression): Alternative[] {
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return one({ text: node.text })
  if (ts.isNumericLiteral(node)) return one({ text: String(Number(node.text.replaceAll('_', ''))), number: true })
  if (
    ts.isParenthesizedExpression(node) ||
    ts.isAsExpression(node) ||
    ts.isSatisfiesExpression(node) ||
    ts.isNonNullExpression(node)
  )
    return evaluate(node.expression)
  if (ts.isTemplateExpression(node)) {
    const parts: Alternative[][] = [one({ text: node.head.text })]
    for (const span of node.templateSpans) parts.push(evaluate(span.expression), one({ text: span.literal.text }))
    return combine(parts, concatenate)
  }
  if (ts.isBinaryExpression(node)) {
    const operator = node.operatorToken.kind
    if (operator === ts.SyntaxKind.PlusToken) return combine([evaluate(node.left), evaluate(node.right)], add)
    if (operator === ts.SyntaxKind.BarBarToken || operator === ts.SyntaxKind.QuestionQuestionToken)
      return [...evaluate(node.left), ...evaluate(node.right)]
    return unknownOf(node)
  }
  if (ts.isConditionalExpression(node)) return evaluateConditional(node)
  if (ts.isArrayLiteralExpression(node)) return one({ elements: node.elements })
  if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression)) {
    // `table.find(…)`: one of the table's elements.
    if (node.expression.name.text === 'find') {
      return evaluate(node.expression.expression).flatMap((table) =>
        'elements' in table.value
          ? table.value.elements.flatMap((element, index) => withChoice(evaluate(element), node, index, table.choices))
          : unknownOf(node),
      )
    }
  }
  // `rows(…)`: a function whose body is one expression (a table made anew per call); what its
  // parameters hold is known only at run time, and the table's rows are read as they are written.
  if (ts.isCallExpression(node) && ts.isIdentifier(node.expression)) {
    const declaration = symbolOf(node.expression)?.valueDeclaration
    const made = declaration && ts.isVariableDeclaration(declaration) ? declaration.initializer : undefined
    if (made && ts.isArrowFunction(made) && !ts.isBlock(made.body)) {
      return evaluate(made.body)
    }
  }
  if (ts.isIdentifier(node)) {
    if (node.text === 'undefined') return one(NONE)
    return evaluateSymbol(symbolOf(node), node)
  }
  return unknownOf(node)
}

/** `alternatives`, each also having taken choice `index` at `node` (and agreeing with `choices`). */
function withChoice(
  alternatives: Alternative[],
  node: ts.Node,
  index: number,
  choices: ReadonlyMap<ts.Node, number> = new Map(),
): Alternative[] {
  const taken = new Map([[node, index]])
  return alternatives.flatMap((alternative) => {
    const merged = agree(agree(choices, taken) ?? new Map(), alternative.choices)
    return merged ? [{ ...alternative, choices: merged }] : []
  })
}

/** `x === undefined ? a : b` (and `!==`), decided where x is known to be, or not to be, undefined. */
function evaluateConditional(node: ts.ConditionalExpression): Alternative[] {
  const condition = node.condition
  const branches = () => [...evaluate(node.whenTrue), ...evaluate(node.whenFalse)]
  if (!ts.isBinaryExpression(condition)) return branches()
  const operator = condition.operatorToken.kind
  const isUndefined = (side: ts.Expression) => ts.isIdentifier(side) && side.text === 'undefined'
  const tested = isUndefined(condition.right) ? condition.left : isUndefined(condition.left) ? condition.right : null
  const equal = operator === ts.SyntaxKind.EqualsEqualsEqualsToken
  if (!tested || !(equal || operator === ts.SyntaxKind.ExclamationEqualsEqualsToken)) return branches()
  return evaluate(tested).flatMap(({ value, choices }) => {
    const can = 'none' in value ? [true] : 'unknown' in value && value.maybeUndefined ? [true, false] : [false]
    return can.flatMap((undefinedHere) =>
      withChoices(evaluate(undefinedHere === equal ? node.whenTrue : node.whenFalse), choices),
    )
  })
}

function withChoices(alternatives: Alternative[], choices: ReadonlyMap<ts.Node, number>): Alternative[] {
  return alternatives.flatMap((alternative) => {
    const merged = agree(choices, alternative.choices)
    return merged ? [{ ...alternative, choices: merged }] : []
  })
}

function evaluateSymbol(symbol: ts.Symbol | undefined, at: ts.Node): Alternative[] {
  const declaration = symbol?.valueDeclaration ?? symbol?.declarations?.[0]
  if (!declaration) return unknownOf(at)
  if (ts.isParameter(declaration)) return evaluateParameter(declaration, at)
  if (ts.isVariableDeclaration(declaration) || ts.isBindingElement(declaration)) return evaluateBinding(declaration, at)
  return unknownOf(at)
}

/** A step into a destructuring pattern: an array element's index, or an object property's name. */
type Step = { index: number } | { property: string }

/** A const, or a name a const's or a `for…of`'s pattern binds: what its initializer (or table) holds there. */
function evaluateBinding(binding: ts.VariableDeclaration | ts.BindingElement, at: ts.Node): Alternative[] {
  const path: Array<{ step: Step; element: ts.BindingElement }> = []
  let node: ts.Node = binding
  while (ts.isBindingElement(node)) {
    const pattern: ts.BindingPattern = node.parent
    const step: Step = ts.isArrayBindingPattern(pattern)
      ? { index: pattern.elements.indexOf(node) }
      : { property: (node.propertyName ?? node.name).getText() }
    path.unshift({ step, element: node })
    node = pattern.parent
  }
  if (!ts.isVariableDeclaration(node) || !(node.parent.flags & ts.NodeFlags.Const)) return unknownOf(at)
  const statement = node.parent.parent
  const outer: Alternative[] = []
  if (ts.isForOfStatement(statement)) {
    // One element of the table per turn: every name bound by this loop takes the same one.
    for (const table of evaluate(statement.expression)) {
      if (!('elements' in table.value)) return unknownOf(at)
      table.value.elements.forEach((element, index) => {
        outer.push(...withChoice(evaluate(element), statement, index, table.choices))
      })
    }
  } else if (node.initializer) {
    outer.push(...evaluate(node.initializer))
  } else {
    return unknownOf(at)
  }
  return destructure(outer, path, at)
}

function destructure(
  alternatives: Alternative[],
  path: Array<{ step: Step; element: ts.BindingElement }>,
  at: ts.Node,
): Alternative[] {
  const [first, ...rest] = path
  if (!first) return alternatives
  return alternatives.flatMap((alternative) => {
    const { value, choices } = alternative
    if (!('elements' in value) || !('index' in first.step)) return unknownOf(at)
    const element = value.elements[first.step.index]
    const inner =
      element && !(ts.isIdentifier(element) && element.text === 'undefined')
        ? evaluate(element)
        : first.element.initializer
          ? evaluate(first.element.initializer)
          : one(NONE)
    return destructure(withChoices(inner, choices), rest, at)
  })
}

/** The calls that pass arguments to `fn`'s parameters; `escapes` when it is also handed on as a value. */
const calledBy = new Map<ts.SignatureDeclaration, { calls: ts.CallLikeExpression[]; escapes: boolean }>()
function callsOf(fn: ts.SignatureDeclaration): { calls: ts.CallLikeExpression[]; escapes: boolean } {
  const found = calledBy.get(fn) ?? findCalls(fn)
  calledBy.set(fn, found)
  return found
}

function findCalls(fn: ts.SignatureDeclaration): { calls: ts.CallLikeExpression[]; escapes: boolean } {
  if (ts.isConstructorDeclaration(fn)) return callsOfClass(symbolOf(fn.parent.name as ts.Identifier))
  const name =
    ts.isFunctionDeclaration(fn) && fn.name
      ? fn.name
      : (ts.isArrowFunction(fn) || ts.isFunctionExpression(fn)) &&
          ts.isVariableDeclaration(fn.parent) &&
          ts.isIdentifier(fn.parent.name)
        ? fn.parent.name
        : undefined
  // A callback with no name of its own (`.catch((error) => …)`): its arguments are not in src/.
  if (!name) return { calls: [], escapes: true }
  const calls: ts.CallLikeExpression[] = []
  let escapes = false
  for (const reference of referencesOf(name)) {
    const parent = reference.parent
    if ((ts.isCallExpression(parent) || ts.isNewExpression(parent)) && parent.expression === reference)
      calls.push(parent)
    else if (
      ts.isCallExpression(parent) ||
      ts.isPropertyAssignment(parent) ||
      ts.isShorthandPropertyAssignment(parent) ||
      ts.isArrayLiteralExpression(parent) ||
      ts.isReturnStatement(parent) ||
      (ts.isVariableDeclaration(parent) && parent.initializer === reference) ||
      (ts.isBinaryExpression(parent) && parent.right === reference)
    )
      escapes = true
  }
  return { calls, escapes }
}

/** What runs a class's constructor: `new` of it or of a subclass without one, and `super(…)` in a subclass. */
function callsOfClass(symbol: ts.Symbol | undefined): { calls: ts.CallLikeExpression[]; escapes: boolean } {
  const calls: ts.CallLikeExpression[] = []
  for (const source of sources) {
    walk(source, (node) => {
      if (ts.isNewExpression(node) && constructed(symbolOf(node.expression)) === symbol) calls.push(node)
      if (isSuperCall(node) && constructed(parentOf(enclosingClass(node))) === symbol) calls.push(node)
    })
  }
  return { calls, escapes: false }
}

const isSuperCall = (node: ts.Node): node is ts.CallExpression =>
  ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.SuperKeyword

function enclosingClass(node: ts.Node): ts.ClassDeclaration {
  let up = node.parent
  while (!ts.isClassDeclaration(up)) up = up.parent
  return up
}

/** A parameter: what each call site passes (or its default), one choice per call site. */
function evaluateParameter(parameter: ts.ParameterDeclaration, at: ts.Node): Alternative[] {
  const fn = parameter.parent
  const index = fn.parameters.indexOf(parameter)
  if (parameter.dotDotDotToken || !ts.isIdentifier(parameter.name)) return unknownOf(at)
  const { calls, escapes } = callsOf(fn)
  // Typed as never undefined (`status: number`): what a call passes isn't either, whatever it is.
  const maybeUndefined =
    !!parameter.questionToken ||
    !!parameter.initializer ||
    !parameter.type ||
    unknownOf(parameter).some(({ value }) => 'unknown' in value && value.maybeUndefined)
  const alternatives = calls.flatMap((call, site) => {
    const argument = (call as ts.CallExpression).arguments?.[index]
    const passed =
      argument && !(ts.isIdentifier(argument) && argument.text === 'undefined')
        ? evaluate(argument)
        : parameter.initializer
          ? evaluate(parameter.initializer)
          : one(NONE)
    return withChoice(passed, fn, site).map(
      (alternative): Alternative => ({
        ...alternative,
        value: 'unknown' in alternative.value && !maybeUndefined ? UNKNOWN_DEFINED : alternative.value,
        at: alternative.at ?? call,
      }),
    )
  })
  return escapes || !calls.length ? [...alternatives, ...withChoice(unknownOf(at), fn, -1)] : alternatives
}

// ---- Where reasons come from ------------------------------------------------------------------

/**
 * The classes `new expression(…)` can construct: the class it names, or, where it names a parameter
 * (withTimeout's `Timeout`), each class its call sites pass and its default.
 */
function constructs(expression: ts.Expression): Array<ts.Symbol | undefined> {
  const symbol = symbolOf(expression)
  const parameter = symbol?.valueDeclaration
  if (!parameter || !ts.isParameter(parameter)) return [symbol]
  const fn = parameter.parent
  const index = fn.parameters.indexOf(parameter)
  const passed = callsOf(fn).calls.map((call) => (call as ts.CallExpression).arguments?.[index])
  return [...passed, parameter.initializer].flatMap((argument) => (argument ? [symbolOf(argument)] : []))
}

/** Where a reason is written: an object's `skip` or `reason`, or the message of an error. */
function reasonSites(): ts.Expression[] {
  const sites: ts.Expression[] = []
  for (const source of sources) {
    walk(source, (node) => {
      if (ts.isPropertyAssignment(node) && ts.isObjectLiteralExpression(node.parent)) {
        if (['skip', 'reason'].includes(node.name.getText())) sites.push(node.initializer)
      } else if (ts.isShorthandPropertyAssignment(node)) {
        if (['skip', 'reason'].includes(node.name.text)) sites.push(node.name)
      } else if (ts.isNewExpression(node) && constructs(node.expression).some((c) => isBuiltInError(constructed(c)))) {
        if (node.arguments?.[0]) sites.push(node.arguments[0])
      } else if (isSuperCall(node) && isBuiltInError(constructed(parentOf(enclosingClass(node))))) {
        if (node.arguments[0]) sites.push(node.arguments[0])
      }
    })
  }
  return sites
}

/** Every reason the source can give, holes marked, with where its words are written. */
function reasonsInSource(): Map<string, string> {
  const reasons = new Map<string, string>()
  for (const site of reasonSites()) {
    for (const { value, at } of evaluate(site)) {
      if (!('text' in value)) continue
      const reason = normalize(value.text)
      // Only holes and punctuation: it joins reasons that are rows of their own.
      if (!/\p{L}/u.test(reason.replaceAll(HOLE, ''))) continue
      if (!reasons.has(reason)) reasons.set(reason, where(at ?? site))
    }
  }
  return reasons
}

/** Runs of holes are one hole. */
const normalize = (reason: string) => reason.replace(/␟+/g, HOLE)
/** A reason as the table should spell it: each hole as a placeholder. */
const spelled = (reason: string) => reason.replaceAll(HOLE, '<…>')

// ---- The table --------------------------------------------------------------------------------

interface Row {
  /** The reasons of its first cell: one code span, or several joined by `<br>` (one meaning, several words). */
  reasons: string[]
  cells: string[]
  line: number
}

/** A table line's cells; a `|` inside a code span is no cell border. */
const cellsOf = (line: string) =>
  line
    .slice(1, -1)
    .split(/\|(?=(?:[^`]*`[^`]*`)*[^`]*$)/)
    .map((cell) => cell.trim())

/** Rows of every table in docs/troubleshooting.md whose first cell is code spans. */
function tableRows(text: string): Row[] {
  const lines = text.split('\n')
  const rows: Row[] = []
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string
    const next = lines[i + 1] ?? ''
    // A table's lines; not its separator, nor its header (the line above a separator).
    if (!line.startsWith('|') || /^\|[\s:|-]+\|$/.test(line) || /^\|[\s:|-]+\|$/.test(next)) continue
    const cells = cellsOf(line)
    const first = cells[0] ?? ''
    if (!/^`[^`]+`(\s*<br>\s*`[^`]+`)*$/.test(first)) continue
    rows.push({ reasons: [...first.matchAll(/`([^`]+)`/g)].map((match) => match[1] as string), cells, line: i + 1 })
  }
  return rows
}

/** A row's reason with each `<placeholder>` a hole. */
const asReason = (written: string) => normalize(written.replace(/<[^<>]+>/g, HOLE))

const troubleshooting = readFileSync(new URL('../docs/troubleshooting.md', import.meta.url), 'utf8')
const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
/** The README's Troubleshooting section: its most common reasons, as list items that start with one. */
const readmeTroubleshooting = () => {
  const section = /^## Troubleshooting\n([\s\S]*?)^## /m.exec(readme)?.[1]
  assert.ok(section, 'README.md has no "## Troubleshooting" section')
  return section
}
let extracted: Map<string, string> | undefined
/** Read once, in the first test that needs it: a failure then fails a test, with its message. */
const source = () => (extracted ??= reasonsInSource())
const rows = () => tableRows(troubleshooting)
// `DOCS_REASONS=1 node --import tsx --test test/docs.test.ts`: every reason found, and where.
if (process.env.DOCS_REASONS) for (const [reason, at] of source()) console.log(`${spelled(reason)}  (${at})`)

describe('docs: the troubleshooting table', { skip: instrumented && 'src/ is instrumented by Stryker' }, () => {
  test('the source gives the reasons it is known to give (the extraction sees them)', () => {
    for (const known of [
      'properties.order_id is longer than 255 characters',
      'integrations.Trustpilot.tags must be an array of non-empty strings',
      'user traits.email is not an email address (one @, no spaces, at most 254 characters)',
      `Trustpilot answered HTTP ${HOLE}`,
      `Trustpilot integration disabled or domain blocked (HTTP ${HOLE})`,
      `gave up after ${HOLE} attempts; last error: ${HOLE}`,
      `no answer from Trustpilot within ${HOLE} ms`,
      'Trustpilot: setting "timeoutMs" must be a positive number',
      'Trustpilot: setting "transport" must be "api" or "script" ("api" with a path endpoint)',
    ])
      assert.ok(source().has(known), `the extraction no longer finds "${spelled(known)}" in src/`)
    // No combination that can't happen (a rule of one setting under another's name).
    assert.ok(!source().has('Trustpilot: setting "timeoutMs" must be a string'))
    assert.ok(!source().has(`Trustpilot rejected the invitation`), 'a status-less rejection only comes via the script')
  })

  test('every reason the source can give has a row', () => {
    const rowReasons = new Set(rows().flatMap((row) => row.reasons.map(asReason)))
    const missing = [...source()]
      .filter(([reason]) => !rowReasons.has(reason))
      .map(([reason, at]) => `  "${spelled(reason)}" (${at})`)
    assert.deepEqual(
      missing,
      [],
      `docs/troubleshooting.md has no row for these reasons the source gives; add a row (with \`<name>\` for each <…>):\n${missing.join('\n')}`,
    )
  })

  test('every row is a reason the source can give (nothing stale)', () => {
    const table = rows()
    assert.ok(table.length >= 20, `only ${table.length} rows found in docs/troubleshooting.md`)
    const stale = table.flatMap((row) =>
      row.reasons
        .filter((reason) => !source().has(asReason(reason)))
        .map((reason) => `  docs/troubleshooting.md:${row.line}: \`${reason}\``),
    )
    assert.deepEqual(
      stale,
      [],
      `docs/troubleshooting.md has rows no reason in src/ matches; correct or remove them:\n${stale.join('\n')}`,
    )
  })

  test('each reason is in one row, and no row has an empty cell', () => {
    const seen = new Map<string, number>()
    for (const row of rows()) {
      for (const reason of row.reasons) {
        const earlier = seen.get(asReason(reason))
        assert.ok(
          earlier === undefined,
          `docs/troubleshooting.md:${row.line}: \`${reason}\` is already in the row of line ${earlier}`,
        )
        seen.set(asReason(reason), row.line)
      }
      const empty = row.cells.length < 2 || row.cells.some((cell) => !cell)
      assert.ok(!empty, `docs/troubleshooting.md:${row.line}: the row of \`${row.reasons[0]}\` has an empty cell`)
    }
  })

  test("the README's most common reasons are reasons the source gives, and it links the rest", () => {
    const section = readmeTroubleshooting()
    // Each item's reason: its first code span (a span may wrap onto the next line, as Markdown allows).
    const reasons = [...section.matchAll(/^- `([^`]+)`:/gm)].map((match) =>
      (match[1] as string).replace(/\s*\n\s*/g, ' '),
    )
    assert.ok(
      reasons.length >= 5,
      `README.md's Troubleshooting lists ${reasons.length} reasons, not the five most common`,
    )
    const unknown = reasons.filter((reason) => !source().has(asReason(reason)))
    assert.deepEqual(unknown, [], "reasons in README.md's Troubleshooting that src/ does not give")
    assert.match(section, /\(docs\/troubleshooting\.md\)/)
  })
})

describe('docs/testing.md', () => {
  test('names every test file, so none runs unlisted', () => {
    const testing = readFileSync(`${ROOT}docs/testing.md`, 'utf8')
    const inFolder = (folder: string, ending: string) =>
      readdirSync(`${ROOT}${folder}`)
        .filter((file) => file.endsWith(ending))
        .map((file) => `${folder}/${file}`)
    const files = [
      ...inFolder('test', '.test.ts'),
      ...inFolder('e2e', '.spec.ts'),
      ...inFolder('e2e/webkitgtk', '.spec.ts'),
      ...(existsSync(`${ROOT}test/recipes`) ? inFolder('test/recipes', '.test.ts') : []),
    ]
    assert.ok(files.length > 20, `found only ${files.length} test files`)
    assert.deepEqual(
      files.filter((file) => !testing.includes(`\`${file}\``)),
      [],
      'test files docs/testing.md does not name',
    )
  })
})

describe('README.md', () => {
  test("at most 300 lines: detail lives in docs/, the README is for the shop's developer", () => {
    const lines = readme.trimEnd().split('\n').length
    assert.ok(lines > 100 && lines <= 300, `README.md has ${lines} lines`)
  })

  test('no source line is over 200 characters (a table cell that grows re-pads no table)', () => {
    const long = readme
      .split('\n')
      .flatMap((line, i) => (line.length > 200 ? [`README.md:${i + 1}: ${line.length} characters`] : []))
    assert.deepEqual(long, [])
  })

  test('the settings table: every key of TrustpilotSettings, once, with the default the code takes', async () => {
    const { resolveSettings } = await import('../src/settings')
    const types = readFileSync(`${SRC}types.ts`, 'utf8')
    const body = /export interface TrustpilotSettings \{\n([\s\S]*?)\n\}/.exec(types)?.[1] ?? ''
    const keys = [...body.matchAll(/^ {2}(\w+)\??:/gm)].map((match) => match[1] as string)
    assert.ok(keys.length >= 15, `read ${keys.length} settings from src/types.ts`)
    const section = /^## Settings\n([\s\S]*?)^##? /m.exec(readme)?.[1] ?? ''
    const rows = section
      .split('\n')
      .filter((line) => /^\| `\w+`/.test(line))
      .map(cellsOf)
    assert.deepEqual(
      rows.map(([name]) => name?.replaceAll('`', '')),
      keys,
      "the README's settings, in the order of TrustpilotSettings",
    )
    const resolved = resolveSettings({ apiKey: 'k' }) as unknown as Record<string, unknown>
    const code: Record<string, unknown> = { ...resolved }
    for (const [name, written] of rows.map(([name, written]) => [name?.replaceAll('`', ''), written] as const)) {
      if (name === 'apiKey') {
        assert.equal(written, 'required')
        continue
      }
      const literal = /^`(.*)`$/.exec(written ?? '')?.[1]
      // Unset: the code has no value. A literal: exactly the code's default.
      if (literal === undefined) assert.equal(code[name as string], undefined, `${name}: the README says ${written}`)
      else assert.deepEqual(code[name as string], JSON.parse(literal.replaceAll("'", '"')), `${name}'s default`)
    }
  })
})
