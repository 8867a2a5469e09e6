export function App() {
  return <h1>tokenmeter</h1>;
}
